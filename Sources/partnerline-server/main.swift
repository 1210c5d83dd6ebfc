print("partnerline-server")
