; TypeScript identifier references (run on open documents only).
(identifier) @reference
(property_identifier) @reference
(type_identifier) @reference
