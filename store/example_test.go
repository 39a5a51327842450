package store_test

import (
	"context"
	"fmt"

	"github.com/farmhand/farmhand/store"
)

func Example() {
	ctx := context.Background()
	db := store.NewMemory()
	defer db.Close()
	shop, _ := db.Farm("shop")

	// One atomic batch: both records are written, or neither.
	shop.Apply(ctx,
		store.Put("desired/app", []byte("4")),
		store.Put("desired/db", []byte("2")),
	)
	kvs, _ := shop.List(ctx, "desired/")
	for _, kv := range kvs {
		fmt.Printf("%s = %s\n", kv.Key, kv.Value)
	}
	_, err := shop.Get(ctx, "master/db")
	fmt.Println(err)
	// Output:
	// desired/app = 4
	// desired/db = 2
	// store: key not found: "master/db"
}
