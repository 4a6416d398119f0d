module peers/mutex

go 1.19
