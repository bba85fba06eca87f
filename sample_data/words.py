"""Word lists for readable synthetic titles: `CATEGORY_WORDS[k]` = (category name, 3 nouns)."""

SEGMENTS = ("bargain", "mainstream", "premium", "explorer")

ADJECTIVES = (
    "Compact", "Classic", "Deluxe", "Everyday", "Vintage", "Modern", "Rugged", "Slim",
    "Premium", "Budget", "Handmade", "Organic", "Smart", "Portable", "Heavy-duty", "Cosy",
    "Bright", "Quiet", "Eco", "Pro", "Mini", "Grand", "Lightweight", "Retro", "Nordic",
    "Urban", "Wild", "Golden", "Silver", "Midnight", "Sunny", "Crisp",
)

CATEGORY_WORDS = (
    ("Books", "Novel", "Cookbook", "Atlas"),
    ("Garden", "Planter", "Hose", "Trowel"),
    ("Kitchen", "Skillet", "Kettle", "Knife Set"),
    ("Electronics", "Headphones", "Charger", "Speaker"),
    ("Toys", "Puzzle", "Robot Kit", "Plush Bear"),
    ("Sports", "Yoga Mat", "Football", "Racket"),
    ("Outdoor", "Tent", "Backpack", "Lantern"),
    ("Beauty", "Serum", "Lipstick", "Face Mask"),
    ("Health", "Vitamins", "Thermometer", "First-aid Kit"),
    ("Home", "Lamp", "Rug", "Cushion"),
    ("Furniture", "Armchair", "Bookshelf", "Desk"),
    ("Office", "Notebook", "Stapler", "Pen Set"),
    ("Music", "Guitar", "Vinyl", "Ukulele"),
    ("Movies", "Box Set", "Blu-ray", "Documentary"),
    ("Games", "Board Game", "Card Game", "Controller"),
    ("Pets", "Dog Bed", "Cat Tree", "Leash"),
    ("Baby", "Stroller", "Onesie", "Rattle"),
    ("Fashion", "Jacket", "Scarf", "Sneakers"),
    ("Jewellery", "Necklace", "Ring", "Bracelet"),
    ("Watches", "Chronograph", "Smartwatch", "Dive Watch"),
    ("Automotive", "Dash Cam", "Tyre Pump", "Seat Cover"),
    ("Tools", "Drill", "Wrench", "Tool Box"),
    ("Grocery", "Coffee Beans", "Olive Oil", "Tea Tin"),
    ("Art", "Easel", "Paint Set", "Sketchbook"),
    ("Crafts", "Yarn", "Sewing Kit", "Glue Gun"),
    ("Travel", "Suitcase", "Neck Pillow", "Passport Wallet"),
    ("Photography", "Camera", "Tripod", "Lens"),
    ("Bath", "Towel", "Bath Robe", "Shower Head"),
    ("Bedding", "Duvet", "Pillow", "Sheet Set"),
    ("Stationery", "Planner", "Washi Tape", "Fountain Pen"),
    ("Cycling", "Helmet", "Bike Light", "Saddle"),
    ("Fitness", "Dumbbells", "Kettlebell", "Jump Rope"),
)
