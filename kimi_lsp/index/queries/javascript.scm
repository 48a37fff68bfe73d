; JavaScript: top-level and exported definitions, class members, imports (ES modules, require, import()).

(program (function_declaration name: (identifier) @name) @definition.function)
(program (generator_function_declaration name: (identifier) @name) @definition.function)
(program (class_declaration name: (identifier) @name) @definition.class)
(program (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (export_statement declaration: (function_declaration name: (identifier) @name) @definition.function))
(program (export_statement declaration: (generator_function_declaration name: (identifier) @name) @definition.function))
(program (export_statement declaration: (class_declaration name: (identifier) @name) @definition.class))
(program (export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable)))
(program (export_statement declaration: (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable)))

(class_body (method_definition name: (_) @name) @definition.method)
(class_body (field_definition property: (_) @name) @definition.field)

(import_statement source: (string) @import)
(export_statement source: (string) @import)
(call_expression function: (identifier) @_require arguments: (arguments . (string) @import) (#eq? @_require "require"))
(call_expression function: (import) arguments: (arguments . (string) @import))
