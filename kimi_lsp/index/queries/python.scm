; Python: module-level definitions, class members, imports.
; Captures: @definition.<kind> on the definition node, @name on its name, @import on an import statement.

(module (function_definition name: (identifier) @name) @definition.function)
(module (decorated_definition definition: (function_definition name: (identifier) @name) @definition.function))
(module (class_definition name: (identifier) @name) @definition.class)
(module (decorated_definition definition: (class_definition name: (identifier) @name) @definition.class))
(module (expression_statement (assignment left: (identifier) @name) @definition.variable))

(class_definition body: (block (function_definition name: (identifier) @name) @definition.method))
(class_definition body: (block (decorated_definition definition: (function_definition name: (identifier) @name) @definition.method)))
(class_definition body: (block (class_definition name: (identifier) @name) @definition.class))
(class_definition body: (block (decorated_definition definition: (class_definition name: (identifier) @name) @definition.class)))
(class_definition body: (block (expression_statement (assignment left: (identifier) @name) @definition.field)))

(import_statement) @import
(import_from_statement) @import
