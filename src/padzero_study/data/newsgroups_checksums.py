"""What the 20 Newsgroups "bydate" posts are, for checking a copy: the posts and a checksum of each newsgroup.

The checksums are of the decoded posts, not of an archive file: repacked archives of the same posts differ byte
for byte (scikit-learn publishes one SHA-256 for its download; a sound copy repacked elsewhere has another), while
the posts do not. Made from a sound copy (all 18,846 posts; `gzip -t` passes) by `posts_checksum`.
"""

import hashlib

# {subset folder: {newsgroup: (number of posts, posts_checksum of its posts in file-name order)}}
BYDATE_POSTS = {
    "20news-bydate-train": {
        "alt.atheism": (480, "80b38d37665ce678"),
        "comp.graphics": (584, "c77cd664df3b474e"),
        "comp.os.ms-windows.misc": (591, "0f9356d3727e2c3b"),
        "comp.sys.ibm.pc.hardware": (590, "506711919d063d40"),
        "comp.sys.mac.hardware": (578, "5fc9926bf1cb9efb"),
        "comp.windows.x": (593, "b1ee6423ba7f4b1f"),
        "misc.forsale": (585, "912996f19c6c4d83"),
        "rec.autos": (594, "c3c48f8202b06c91"),
        "rec.motorcycles": (598, "b1dbaaa58b10ba12"),
        "rec.sport.baseball": (597, "e0c3067916daf561"),
        "rec.sport.hockey": (600, "898786f21ede4f9f"),
        "sci.crypt": (595, "c9446e7d3c0bb82a"),
        "sci.electronics": (591, "7b03207cba303df5"),
        "sci.med": (594, "ae45e93742c6fc8b"),
        "sci.space": (593, "767ed02c3a0006b5"),
        "soc.religion.christian": (599, "c7c2567ac712dc24"),
        "talk.politics.guns": (546, "b18ba579d3c51343"),
        "talk.politics.mideast": (564, "4aa743300aeafd7d"),
        "talk.politics.misc": (465, "d17deb63ddce9795"),
        "talk.religion.misc": (377, "a99b5a34f4abaf4d"),
    },
    "20news-bydate-test": {
        "alt.atheism": (319, "354f53a93776d995"),
        "comp.graphics": (389, "c0bbd1a76140af53"),
        "comp.os.ms-windows.misc": (394, "57f591bfbaa00c80"),
        "comp.sys.ibm.pc.hardware": (392, "7d12a9af81e8c5ef"),
        "comp.sys.mac.hardware": (385, "df424480526b03f3"),
        "comp.windows.x": (395, "53d1c4a1fc842750"),
        "misc.forsale": (390, "11341841b17896f6"),
        "rec.autos": (396, "a926eb9ccac5f434"),
        "rec.motorcycles": (398, "e50f468457c21dc3"),
        "rec.sport.baseball": (397, "8eae5a80b5a6ea76"),
        "rec.sport.hockey": (399, "f8e66f81ee8270d1"),
        "sci.crypt": (396, "5c9a2709e374cf80"),
        "sci.electronics": (393, "2e5e6283d5d8f5a6"),
        "sci.med": (396, "41e487482da4b83c"),
        "sci.space": (394, "a56f95d8301f186a"),
        "soc.religion.christian": (398, "08ed75ba270fed0e"),
        "talk.politics.guns": (364, "de2b4014881b1aca"),
        "talk.politics.mideast": (376, "71b48179492829c6"),
        "talk.politics.misc": (310, "9673ea85bedac0b1"),
        "talk.religion.misc": (251, "38196b26cae25f18"),
    },
}


def posts_checksum(posts):
    """The first 16 hex digits of a SHA-256 over `(file name, text)` pairs, each part length-prefixed.

    Texts are encoded as Latin-1, the encoding the posts are read in, so the checksum is that of the files' bytes.

    Example:

    >>> posts_checksum([("38", "Subject: pixels")])
    'e7ca62cb140f755e'
    """
    digest = hashlib.sha256()
    for name, text in posts:
        for part in (name.encode(), text.encode("latin-1")):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return digest.hexdigest()[:16]
