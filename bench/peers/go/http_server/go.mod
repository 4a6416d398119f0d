module peers/http_server

go 1.19
