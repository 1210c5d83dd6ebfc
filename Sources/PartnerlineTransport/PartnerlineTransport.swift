// PartnerlineTransport
