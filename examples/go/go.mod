module cra.example/cra

go 1.21
