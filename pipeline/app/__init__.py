"""pipeline/app"""
