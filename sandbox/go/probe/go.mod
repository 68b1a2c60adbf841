module local/sandbox-probe

go 1.26
