module peers/echo_server

go 1.19
