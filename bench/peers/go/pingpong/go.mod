module peers/pingpong

go 1.19
