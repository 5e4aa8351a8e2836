package main

import (
	"github.com/faultline/faultline/system/accounts"
	"github.com/faultline/faultline/system/balance"
	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/cards"
	"github.com/faultline/faultline/system/edge"
	"github.com/faultline/faultline/system/emoji"
	"github.com/faultline/faultline/system/enrichment"
	"github.com/faultline/faultline/system/feed"
	"github.com/faultline/faultline/system/feedgen"
	"github.com/faultline/faultline/system/merchant"
	"github.com/faultline/faultline/system/notifications"
	"github.com/faultline/faultline/system/payments"
	"github.com/faultline/faultline/system/pots"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/profile"
	"github.com/faultline/faultline/system/support"
	"github.com/faultline/faultline/system/transactions"
)

// setups maps every service of the topology to its package's Setup.
var setups = map[string]process.Setup{
	"edge":                   edge.Setup,
	"support":                support.Setup,
	"card-api":               cardapi.Setup,
	"card-processing":        cardprocessing.Setup,
	"cards":                  cards.Setup,
	"accounts":               accounts.Setup,
	"balance":                balance.Setup,
	"transactions":           transactions.Setup,
	"payments":               payments.Setup,
	"pots":                   pots.Setup,
	"merchant":               merchant.Setup,
	"transaction-enrichment": enrichment.Setup,
	"feed-generator":         feedgen.Setup,
	"feed":                   feed.Setup,
	"notifications":          notifications.Setup,
	"emoji":                  emoji.Setup,
	"profile":                profile.Setup,
}
