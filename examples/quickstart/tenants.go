package main

import "fmt"

// tenantsOf returns n tenants of each of classes, named name(0), name(1),
// ... and taken in that order as classOf places them, so that a phase
// drives as many tenants of each cohort whatever the salt of the hash that
// splits them. It fails when a class is still short after 100·n names.
func tenantsOf[C comparable](classes []C, n int, name func(int) string, classOf func(string) C) ([]string, error) {
	taken := make(map[C]int, len(classes))
	for _, c := range classes {
		taken[c] = 0
	}
	var tenants []string
	for i := 0; len(tenants) < n*len(classes); i++ {
		if i == 100*n {
			return nil, fmt.Errorf("after %d tenants, %v of each class, want %d each", i, taken, n)
		}
		t := name(i)
		c := classOf(t)
		if k, ok := taken[c]; ok && k < n {
			taken[c] = k + 1
			tenants = append(tenants, t)
		}
	}
	return tenants, nil
}
