; Python identifier references (run on open documents only).
(identifier) @reference
