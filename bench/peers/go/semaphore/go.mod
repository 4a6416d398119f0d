module peers/semaphore

go 1.19
