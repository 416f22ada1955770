package registry_test

import (
	"context"
	"fmt"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

func ExampleRegistry() {
	reg := registry.New()

	// Slots: governance has a fail-open default; admin identity does not.
	_, hasGov := reg.Governance.SafeGet()
	_, hasAdmin := reg.AdminIdentity.SafeGet()
	fmt.Println("governance:", hasGov, "admin identity:", hasAdmin)

	// Policies per operation, swapped in atomically.
	api, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "api"})
	if err := reg.Apply(registry.Spec{
		Policies: []*baldur.Policy{api},
		Routes:   map[string]string{"GET /items/{id}": "api", "/shop.Cart/*": "api"},
	}); err != nil {
		fmt.Println(err)
		return
	}
	p := reg.Policy("/shop.Cart/Checkout")
	t, err := p.Admit(context.Background(), baldur.Call{Operation: "/shop.Cart/Checkout"})
	fmt.Println(p.Name(), err)
	t.Release(baldur.Outcome{Result: baldur.Success})
	// Output:
	// governance: true admin identity: false
	// api <nil>
}
