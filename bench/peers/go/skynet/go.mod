module peers/skynet

go 1.19
