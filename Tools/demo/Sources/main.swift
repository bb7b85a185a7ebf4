import StateCoordinator
print("placeholder")
