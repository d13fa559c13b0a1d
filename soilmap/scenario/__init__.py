"""3 PROJECT: the Scenario and Saturation values, the 4 per 1000 projection, and the
rasters a scenario reads besides the stock (rates, saturation).
"""
