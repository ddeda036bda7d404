package authletetest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr/authletetest"
)

func TestNewServerClosesWithTest(t *testing.T) {
	var url string
	t.Run("inner", func(t *testing.T) {
		url = authletetest.NewServer(t, authletetest.Options{}).URL
	})
	_, err := http.Post(url+"/api/client/registration", "application/json", strings.NewReader("{}"))
	assert.Error(t, err, "the server is closed when the test that started it ends")
}
