; Go: package clause, top-level functions, methods, types, constants, variables, imports.

(package_clause (package_identifier) @package)

(source_file (function_declaration name: (identifier) @name) @definition.function)
(source_file (method_declaration name: (field_identifier) @name) @definition.method)
(source_file (type_declaration (type_spec name: (type_identifier) @name) @definition.type))
(source_file (type_declaration (type_alias name: (type_identifier) @name) @definition.type))
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @name) @definition.variable)))

(import_spec path: (_) @import)
