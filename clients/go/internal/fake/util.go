package fake

import (
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"
)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func numberValue(f float64) *structpb.Value { return structpb.NewNumberValue(f) }
