// PartnerlineStore
