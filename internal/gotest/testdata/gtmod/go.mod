module example.com/gtmod

go 1.26
