module peers/http_minimal

go 1.19
