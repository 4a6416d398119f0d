module peers/spawn_join

go 1.19
