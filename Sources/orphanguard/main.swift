print("orphanguard: not yet implemented")
