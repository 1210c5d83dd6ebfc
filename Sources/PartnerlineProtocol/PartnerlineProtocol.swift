// PartnerlineProtocol
