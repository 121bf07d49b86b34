*ng_script
shell touch source_marker
