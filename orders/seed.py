"""The seeded skills and service categories: the five public ones of the three-orders model, and everyday help.

Used by a data migration, so it must stay importable without app models.
"""

SKILLS = [
    ("law", "法律政策", "Law and policy"),
    ("outreach", "宣傳走訪", "Outreach and visits"),
    ("social-work", "社會工作", "Social work"),
    ("mediation", "調解", "Mediation"),
    ("elderly-care", "養老陪伴", "Elderly care"),
    ("errands", "跑腿代辦", "Errands"),
    ("repair", "家居維修", "Home repair"),
    ("electrical", "水電", "Plumbing and electrics"),
    ("medical", "醫護", "Medical"),
    ("driving", "駕駛", "Driving"),
    ("tutoring", "輔導教學", "Tutoring"),
    ("digital", "數字技能", "Digital skills"),
    ("cleaning", "清潔環保", "Cleaning"),
]

# code, name, English name, group, skills, max hours credited
CATEGORIES = [
    ("policy", "政策法規宣傳", "Policy and law publicity", "public", ["law", "outreach"], 3),
    ("opinion", "社情民意收集", "Public-opinion collection", "public", ["outreach"], 3),
    ("needy", "扶弱幫困救濟", "Help for the weak and needy", "public", ["social-work", "errands"], 4),
    ("mediation", "矛盾糾紛化解", "Dispute mediation", "public", ["mediation", "law"], 4),
    ("civility", "文明新風倡導", "Civility promotion", "public", ["outreach"], 3),
    ("elderly", "養老陪伴", "Elderly care and companionship", "everyday", ["elderly-care"], 4),
    ("errands", "跑腿代購", "Errands and shopping", "everyday", ["errands"], 2),
    ("repair", "家居維修", "Home repairs", "everyday", ["repair", "electrical"], 4),
    ("medical", "就醫陪診", "Health and medical escort", "everyday", ["medical", "driving"], 6),
    ("tutoring", "課業輔導", "Tutoring", "everyday", ["tutoring"], 3),
    ("digital", "數字助老", "Digital help", "everyday", ["digital"], 2),
    ("cleaning", "清潔環境", "Cleaning and environment", "everyday", ["cleaning"], 3),
]
