"""Domain services: plain async Python over repositories, with no aiogram types."""
