package registry

import "github.com/baldur-go/baldur"

// Duration is baldur.Duration, the duration type of every configuration.
type Duration = baldur.Duration
