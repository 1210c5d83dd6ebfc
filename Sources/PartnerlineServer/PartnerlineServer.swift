// PartnerlineServer
