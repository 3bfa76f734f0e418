"""pipeline/domain"""
