module peers/queue

go 1.19
