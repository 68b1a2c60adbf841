module local/sandbox-pause

go 1.26.0
