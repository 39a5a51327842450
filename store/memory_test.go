package store_test

import (
	"testing"

	"github.com/farmhand/farmhand/store"
	"github.com/farmhand/farmhand/store/storetest"
)

func TestMemoryConforms(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.DB { return store.NewMemory() },
	})
}
