module github.com/dcr-go/dcr

go 1.24.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/net v0.50.0
	golang.org/x/text v0.34.0
	pgregory.net/rapid v1.3.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
