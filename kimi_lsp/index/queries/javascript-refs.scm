; JavaScript identifier references (run on open documents only).
(identifier) @reference
(property_identifier) @reference
(shorthand_property_identifier) @reference
