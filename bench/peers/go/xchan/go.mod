module peers/xchan

go 1.19
