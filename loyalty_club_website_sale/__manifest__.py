{
    "name": "Customer Club on the Web Shop",
    "summary": "Members earn, see and spend club points and pay with gift cards at the eCommerce checkout",
    "version": "18.0.1.0.0",
    "category": "Website/Website",
    "author": "loyalty_club developers",
    "license": "LGPL-3",
    "depends": ["loyalty_club", "website_sale"],
    "data": [
        "views/loyalty_club_views.xml",
        "views/website_sale_templates.xml",
    ],
    "assets": {
        "web.assets_frontend": [
            "loyalty_club_website_sale/static/src/js/*.js",
        ],
        "web.assets_tests": [
            "loyalty_club_website_sale/static/tests/tours/*.js",
        ],
    },
    "auto_install": True,
}
