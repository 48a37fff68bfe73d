; Go identifier references (run on open documents only).
(identifier) @reference
(type_identifier) @reference
(field_identifier) @reference
(package_identifier) @reference
