"""Branch feedback (kiến nghị, đề xuất): raised at the branch, carried to whoever must answer,
tracked against deadlines, answered back to the branch."""
