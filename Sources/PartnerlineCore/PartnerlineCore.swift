// PartnerlineCore
