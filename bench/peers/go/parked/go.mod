module peers/parked

go 1.19
