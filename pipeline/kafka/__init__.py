"""pipeline/kafka"""
