"""pipeline/feeds"""
