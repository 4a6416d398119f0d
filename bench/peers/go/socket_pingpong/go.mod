module peers/socket_pingpong

go 1.19
