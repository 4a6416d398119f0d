module peers/yield

go 1.19
