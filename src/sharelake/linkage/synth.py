"""Seeded synthetic multi-script person lists with ground truth (for linkage quality).

:func:`make_lists` draws people from Romanian, Bulgarian (Cyrillic), Nigerian
(Yoruba, Igbo, Hausa), Chinese (Han) and Thai name pools and writes two lists in
which only ``overlap`` (default 10%) of the records describe the same person.
Each record of a shared person is rendered independently, as two organisations
would: Cyrillic or one of four Latin transliterations of it (Bulgarian official,
English BGN/PCGN style, German, French), Han characters or pinyin with varying
spacing, Thai script or an RTGS or informal romanisation, Romanian with or
without diacritics (comma or cedilla), with typos, swapped given/family order,
a dropped second given name, honorifics, and partial, missing or day/month
swapped birth dates.

The name pools are a fixed sample of the person providers of Faker (MIT),
embedded so the generator is reproducible without it; Chinese given names are any
one or two characters of the pool, and Romanian surnames also the patronymics
(``-escu``) of the given names, so that namesakes are about as rare as the pools
allow rather than an artefact of Faker's short lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from sharelake.linkage.normalize import CYRILLIC

__all__ = ["LOCALES", "SyntheticLists", "make_lists", "name_pool"]

LOCALES = ("ro", "bg", "ng", "zh", "th")
"""Locales drawn, in equal proportions."""

_POOLS: dict[tuple[str, str], str] = {
    ("bg", "given"): (
        "Авигея Агнеш Аксидан Антонела Аркадия Беримир Берия Бетина Бисер Благосвет Блаже Бог "
        "Богдалина Богой Богомил Богородка Богослав Божик Божинела Божур Боила Боне Бонислав "
        "Бронислава Вангелия Варта Василина Венда Весислав Вечко Вигалот Видю Винко Вино Витош "
        "Владлена Войнка Галиян Гануца Гвардиана Генко Георгица Гетко Гечо Гоца Графица "
        "Гримяна Деляна Дениз Денис Денница Дешо Джулия Диамантина Дивизие Динна Доста "
        "Елеонета Елизабет Емануел Ендо Ергана Ермиля Жива Жорка Заварин Захаринка Звездолет "
        "Здухостина Зенгин Изидора Инеса Искър Исперих Ихтиандър Йоан Йовко Йово Йожи Карин "
        "Карина Кети Кимбо Киприян Кириен Кито Койно Ланселот Ластър Латьо Лека Лесе Лилчо "
        "Личо Лозен Лулчо Люляна Максимилияна Марек Мариотка Мартиниян Марчело Матка Матьо "
        "Машо Медиха Мелания Мено Месак Миглена Нано Настимир Настрадин Нафисат Начо Негослав "
        "Недко Нелида Николина Огнена Омана Орфей Павел Павелин Палвира Панделис Паруш "
        "Пейолина Пелина Пепино Петкан Пето Петрийка Петринел Радостка Рачко Ревка Розалин "
        "Ромил Росимир Роско Савета Себастиан Севастин Севда Севдан Сергелинка Сибила Сидония "
        "Сиен Силян Симо Симона Славейко Славил Смехотерапия Спасияна Стависара Сташа Стоимена "
        "Стоянка Ташимира Теодослав Тимон Тодомирка Тонимир Тонислав Тончо Тръпка Урима Фимка "
        "Флориан Франц Фъстък Хебър Хинко Хранислава Христа Христозорницомил Хрусан Хубав Цоню "
        "Чано Чардафон Чардафона Чауш Чонар Чудо Шабан Шаро Шенол Шкодри Щерион Щирян Юрита "
        "Яблен Янадин Яначко Ятан севделина "
    ),
    ("bg", "family"): (
        "Андонов Балахуров Балканска Бедринов Бележкова Белоконска-Вражалска Бобев Бодуров "
        "Бранков Братухчев Бумов Бурханларски Бърборков Вакрилов Вампирска Васовa Вражалски "
        "Възвъзов Въртунински Габровлиева Градинарова Гьоков Данданов Дачев Джогов Дзезов "
        "Докова Дришльов ЕвроповКирилов Ждраков Занов Зенгинов Златков Иванов Илиева Иликьов "
        "Йорданов Йоткова Канчин Каракашев Катъров Катърова Келешев Кесьов Китов Клатикрушев "
        "Клатуров Кобиларов Кодуков Кокошкова Колев Колипатков Количков Колчев Костов "
        "Кривошапкова Крушовска Куртажова Куртакова Кучев Кучкуделова Кърков Кьоров Лимонадов "
        "Луланков Макаронски Манавски Мангъров Мангъфова Мераков Милачков Миленков Младенов "
        "Младенова Многознаева Монтянов Мочев Муев Мустакова Недялков Николов Овнарски "
        "Парашкевов Патков Пачаръзка Певецова Педалов Пеева Пенджакова Пикянски Пищовколева "
        "Площаков Плюнкова Плюцова Поаков Пондьов Принов Пройкова Прошков Пръндачка Пулев "
        "Пъков Първанова Пътечкова Рангелов Римпопов Рошльов Самоходов Самсонов Сапунджиева "
        "Симеонов Скринска Сланинкова Смърдански Сопаджиева Станишев Стойков Таралингова "
        "Татьозов Тодоров Тодорова Токов Топков Топчийски Точева-Клопова Тошев Тумангелов "
        "Тутурилов Тухчиев Тъпчилещов Фенеров Хвърчилков Цветков Цицков Цоцов Чанлиева "
        "Четрафилски Чуков Чукчуков Чупетловска Чутурков Шкембова Щърбов Юрганчев Яков Яназов "
        "Яркова "
    ),
    ("ro", "given"): (
        "Adelaida Adi Adonis Adriana Albert Alberta Albertina Alin Anaida Anatolie Anca "
        "Andrian Angel Anica Anton Antonela Antonia Antonie Ariadna Arsenie Aurica Aurică "
        "Axinte Barbu Beatrice Beniamin Benone Bianca Bănel Caius Carina Carmina Catrina "
        "Catrinel Cazimir Celia Ciprian Cipriana Clara Clementina Codin Codruța Constantina "
        "Cornelia Corneliu Cosmin Costel Cristina Cristobal Damian Dan Decebal Demetra Dina "
        "Domnica Dora Doriana Dorina Dorinel Draga Edgar Eftimie Eliana Eliza Elodia Elvira "
        "Emil Eugen Eugenia Eusebiu Fabiana Felicia Filip Fiodor Fiona Floarea Flora Florea "
        "Florentin Florența Floriana Florica Francesca Francisc Frederic Gabi Gabriel Gelu "
        "Gențiana Georgel Gianina Grațian Heracleea Horea Ica Ileana Ilona Iolanda Ion Ionel "
        "Ionelia Ionică Iosefina Iris Iulia Iulian Jean Julia Lavinia Lazăr Liviu Lucia "
        "Ludovic Lăcrămioara Maia Manole Marcela Mariana Maricica Marin Marina Marinela "
        "Marioara Martin Maxim Melina Mirabela Mircea Mirela Miron Miruna Mitică Mona Mădălin "
        "Mădălina Nae Nicodim Niculiță Nora Octav Octaviu Olivia Ortansa Panait Paula Paulina "
        "Pavel Petrică Petronela Petruț Petruța Pompilia Pompiliu Rafael Rafila Remus Renata "
        "Robert Romina Roxana Rozalia Sanda Sandu Sava Sebastian Semenica Sever Silvia "
        "Silviana Simi Sonia Sorin Speranța Stana Stela Steluța Tamara Tatiana Teohari Timea "
        "Tincuța Tudosia Valentin Valentina Valeriu Varvara Venera Veronica Viorica Virginia "
        "Viviana Vlădelina Zaharia Zamfir Zamfira Zoe Șerban Ștefan Ștefana Ștefania "
    ),
    ("ro", "family"): (
        "Aanei Ababei Albu Ardelean Barbu Cristea Diaconescu Diaconu Dima Dinu Dobre Dochioiu "
        "Dumitrescu Eftimie Ene Florea Georgescu Gheorghiu Ionescu Ioniță Manole Marin "
        "Mazilescu Mocanu Nemeș Nistor Niță Oprea Pop Popa Popescu Preda Pușcașu Stan Stancu "
        "Stoica Stănescu Suciu Tabacu Toma Tomescu Tudor Voinea "
    ),
    ("ng", "given"): (
        "Aanuoluwapo Abayomi Abdullahi Abebi Abeni Abiodun Abosede Adebiyi Adebowale Adebukola "
        "Adedayo Adekitan Adekola Adekunle Adeleke Adenike Adeniyi Adeolu Adeoti Adepeju "
        "Aderopo Adesewa Adeshina Adesoji Adetoke Adunni Afolarin Ahmad Aisha Ajala Ajani "
        "Ajoke Akanmu Akinkunmi Akinlabi Akinwale Alade Alamu Aliyu Amarachi Aminatu Amoke "
        "Amope Anjolaoluwa Arike Arinola Asma’u Awero Ayinde Ayinke Ayodeji Ayoka Babasola "
        "Babatunji Babawale Bello Bilkisu Bolatito Bunmi Chiamaka Chibuzo Chidimma Chigozie "
        "Chinedu Chinelo Chinyere Chukwudi Chukwuemeka Damife Danjuma Demilade Doyinsola "
        "Durodola Emeka Eniola Esupofo Faderera Fatima Fehintola Fibikemi Fikayomi Folashade "
        "Gambo Gbadebo Gbolahan Habiba Hafsat Halima Ibidapo Ibironke Ibrahim Ifeanyi "
        "Ifechukwu Ifeoma Ifunanya Ige Ikenna Ikeoluwa Inioluwa Iretioluwa Iseoluwa Ishola "
        "Iyabode Iyadunni Jamila Juwon Keji Kelechi Khadija Kikelomo Kolawole Korede Leke Lere "
        "Mahmud Maryam Modupe Mofifoluwa Moradeke Morayo Morenike Morolake Mosinmileoluwa "
        "Mosunmola Moyosore Musa Nasiru Ngozi Ninioluwa Niyilolawa Nkiruka Nnamdi Nneka Nonso "
        "Oba ObaniJesu Obianuju Obinna Ogechi Ogooluwa Oke Oladimeji Olajumoke Olakunle "
        "Olanrewaju Olansile Olasunmbo Oluchi Olufunke Olufunmilayo Olumorotimi Oluwafemi "
        "Oluwakemi Oluwamumibori Oluwasegun Oluwole Omobobola Omobolanle Omodunni Omolara "
        "Omosalewa Omotara Omotayo Omotola Omotoun Onyinye Osunleke Oyenike Oyindasola Ozioma "
        "Rabi Ronke Ruqayya Safiya Sani Sa’adatu Segilola Seye Shamsuddeen Shehu Shekoni "
        "Sijuade Similoluwa Simisola Sowande Subomi Sumayya Tanimu Toki Tokunbo Toluwanimi "
        "Tomori Uche Uchenna Umar Wuraola Yejide Yetunde Yusuf Zainab "
    ),
    ("ng", "family"): (
        "Abubakar Adebisi Adegbite Adegoke Adekunle Adelakun Adeleke Adelusi Ademiluyi "
        "Aderibigbe Aderogba Adesiyan Adeyemo Adisa Afolabi Afolayan Afonja Ajao Ajayi Ajewole "
        "Akinrinola Alabi Ali Aloba Anyanwu Awodiran Awolowo Ayandokun Ayoola Babtunde Bakare "
        "Balogun Bamidele Bamiloye Bappa Buhari Chukwu Danjuma Edun Eze Ezeugo Fadipe Fagunwa "
        "Fajimi Falabi Faleti Faloye Fasasi Garba Ibikunle Idris Ihejirika Ilori Ilupeju Iroha "
        "Isah Iwu Iyanda Jaiyeola Jibril Kabir Kolade Kosoko Koya Lawal Madu Makinde Makinwa "
        "Mohammed Morawo Mustapha Ninalowo Njoku Nwachukwu Nwosu Obi Odetola Odunsi Ogbuehi "
        "Ogindan Oginni Ogulana Ogunbamigbe Ogunbiyi Ogunbo Ogunde Ogunwobi Ogunyeye Ojo Ojua "
        "Ojukwu Okafor Okeke Okoro Olabode Oladipupo Olaiya Olasupo Olowokeere Oloyede Olubode "
        "Olugbayila Olujimi Olukotun Olukunga Olusanya Oluwagbemi Omidina Omojola Omotoso Onoh "
        "Onwuka Oparinde Oshin Osuntokun Owokoniran Owolabi Owoyemi Oyadiran Oyaifo Oyeniyi "
        "Oyetoro Oyeyemi Oyinlola Paimo Salako Salami Sa’idu Shehu Shekoni Sobowale Soyinka "
        "Suleiman Tukur Udeh Yahaya Yusuf Zubairu "
    ),
    ("zh", "given"): (
        "东 丹 丹丹 丽 丽丽 丽华 丽娟 云 亮 伟 佳 俊 倩 健 兰英 兵 军 冬梅 凤兰 凤英 凯 刚 利 "
        "勇 华 博 坤 娜 娟 婷 婷婷 宁 宇 小红 岩 峰 帅 帆 平 建 建军 建华 建国 建平 强 彬 志强 "
        "想 慧 成 敏 文 斌 旭 明 春梅 晨 晶 杨 杰 林 柳 桂兰 桂珍 桂芝 桂花 桂芳 桂英 桂荣 "
        "桂香 梅 楠 欢 欣 波 洁 洋 浩 海燕 涛 淑兰 淑华 淑珍 淑英 燕 玉 玉兰 玉华 玉梅 玉珍 "
        "玉英 玲 琳 琴 瑜 瑞 璐 畅 磊 秀云 秀兰 秀华 秀梅 秀珍 秀芳 秀英 秀荣 红 红梅 红霞 艳 "
        "芳 英 荣 莉 莹 萍 超 辉 金凤 鑫 阳 雪 雪梅 雷 霞 静 颖 飞 鹏 龙 "
    ),
    ("zh", "family"): (
        "万 丛 丰 亢 仲 伊 伍 但 何 佟 傅 储 元 公 冉 况 冶 刁 刘 利 劳 勾 包 卜 卞 卢 卿 厉 "
        "吴 周 哈 唐 奚 孔 孟 季 安 宋 宗 官 宿 屠 岑 岳 巫 巴 师 常 干 幸 庄 应 康 廖 强 徐 "
        "惠 战 戚 房 扈 支 文 时 明 昝 晁 晋 智 曹 杨 柏 查 栗 栾 桂 梁 楚 檀 欧阳 毕 毛 池 汤 "
        "沈 洪 涂 游 湛 漆 燕 牛 甄 田 由 盖 盘 瞿 祖 秦 穆 窦 简 粟 羊 翁 臧 艾 芦 花 苑 茹 "
        "莫 萧 蒋 蔡 衣 袁 解 谈 谌 谭 豆 费 贾 赖 赵 车 辛 邬 邵 邹 郁 郎 金 闵 阎 阴 阿 陆 "
        "陶 雍 鞠 颜 马 高 魏 鲁 黄 龚 "
    ),
    ("th", "given"): (
        "กรพนธ์ กฤตพร กวาง กษิดิฐ กะดิรัตน์ กิติกานต์ กุลดิลก กุลเชษฐ ขอดิเยาะ คณภรณ์ คมสัน คำ "
        "จด จริยฉัตร จักรีรัตน์ จันทนา จิตรลดา จินต์จุฑา จิม จีราภรณ์ ฉลองชัย ฉัตรปรียา ชลิดา "
        "ชัชเวศย์ ชิดชนก ซุกรี ซูรัยดา ซูฮัยดา ฐิติณัฐฐา ฐิติวุฒิ ณภัทร ณัฐติญา ณัฐธภรณ์ "
        "ณัฐพิชา ณัฐวรินทร ณิชาภัทร ดวงสมร ดิลก ตรีนุช ทวีวัฒน์ ทองรัตน์ ทองสิริ ทัตธน ทินพร "
        "ธนภณ ธมน ธารา ธีริสรา ธีร์ธวันาย นพ นภนต์ นวรรษนันท์ นาทภูวพัฒน์ นิรันดร์ นิวิลดาน "
        "นุจรี บุญญกัลป์ บุญทิวา บุญเทียน ปฐม ประวี ประไพพักตร์ ปรายกานต์ ปัญญาพร ปัณณธร "
        "ปาริตา ปิยนาฎ ปิยนุช ปิยบุตร ปิยวดี ผกาทิพย์ ผดุงพล พงษ์นเรศ พชรภรณ์ พรชีวิน พรปราณี "
        "พรพิไล พรเบญญา พลภูมิ พลานุช พัชรีนิษฐ์ พันธุ์เทพ พันเทพ พัสวี พาดีล๊ะ พิชาภพ "
        "พิมพกานต์ พิมพ์พิชญา พิมพ์สุตา พิไลพร พีรพัฒน์ พุทธิพงษ์ ฟารินี ฟิรยา ภัคชัญญา ภานิณี "
        "ภาสินี ภูวฤณ ภูวัน มณียา มลิวรรณ มะลีวัลย์ มารีนี มาโนชญ์ มูฮัมหมัดอิมรอน ยุภา รวิวาน "
        "รอกีเย๊าะ รอซีด๊ะ ราชัน ราณี รูไกยะฮ์ ลัดดา วนาลี วรปรัชญ์ วรินทธิ์ธร วสิตา วันชนก "
        "วาร์มูฮำหมัด วิชชากร วิถี วิทูลย์ วิพุธ วิรชัย วิสาร วิเชียร วีระโชติ วีร์สุดา วุฒิ "
        "ศจีกาญจน์ ศดิศ ศรินยา ศรีสวัสดิ์ ศศิธร ศิรณัฐ ศิริญา ศิรินันท์ ศุภนุนาย สนั่น สมปอง "
        "สมพิศ สมหมาย สมใจ สราญจิตต์ สิทธัญ สีหราช สุชิน สุทธิณัฐ สุทธิพจน์ สุธาวี สุพนธ์ "
        "สุภาพร สุรวัช หรรษธร หรรษา หลักทรัพย์ อดิสรณ์ อธิตยา อนิวัฒน์ อนุบาล อภิลักษณ์ อรจิรา "
        "อริสรา อลิษา อัญชัญ อัษฏา อาภัศรา อารีย์ อาฮามัด อำพร อุดมลักษณ์ อุลัยพร อเนชา ฮาฟิต "
        "เกริกพล เกศรา เขมจิรา เจตพินิษฐ์ เจษฏาภรณ์ เฉลิมรัฐ เฉลิมรัตน์ เทพนารี เนติลักษณ์ "
        "เบญญาทิพย์ เพียงกมล เพ็ญพรรษา เมทนี เมษา เยาวรัตน์ เลิศเดช เสรี เอกชัย เอกอธิพงษ์ "
        "เอนกพงศ์ โกมล โกวิทย์ โชคภาดล โอภาส ไชยภพ ไมล์ "
    ),
    ("th", "family"): (
        "กุมารบุญ ขอหมั่นกลาง คณานุรักษ์ คำลือ จันทา จันอ้น จ้อยนุแสง ฉัตรอภิเที่ยงค่ำ "
        "ฉัพพรรณธนกูร ฉายแสง ชุมวระ ซาซุม ดวงทับทิม ดัตพันธุ์ ดาตู ดำริห์ชอบ ดิสกะประกาย "
        "ดีตพันธุ์ ดุษฎีวนิช ตระกูลบุญ ตระกูลไม้เรียง ตรีครุธพันธุ์ ตรีเภรินทร์ ตวงทอง ตะละภัฏ "
        "ตัณฑนุช ตัณสถิตย์ ตันตราจิณ ตันเผ่า ตั้งกุลงาม ติณรัตน์ ติระคมน์ ถนอมพล ถนอมพลกรัง "
        "ถนัดการยนต์ ถนัดพิมพการ ถนัดรบ ถนัดอาวุธ ถนัดเดินข่าว ถนิมมาศ ถมปัด ถมังรักษสัตว์ "
        "ถาวรรัตน ถาวระวรณ์ ถาวรายุศม์ ถิรสวัสดิ์ ถุงเงิน ถ้วนศรี ทวนทอง ทวนไชย์ ทวีเดช "
        "ทศโยธิน ทหารแท้ ทองประดิฐ ทองสุกเลิศ ทองอยู่ ทองแท้ ทันยุค ทับทิมไทย ทัศนสุทธิ "
        "ทำประดู่ ธนรักษ์ ธรรมทินนา ธรรมนิยม ธรรมเมธา ธีวร ธูปหอม ธูปะวิโรจน์ นครเทพ นพคเชนทร์ "
        "นวลเพ็ง นะวะมันดร นักสำหรวจ นาคพันธุ์ นาควงษ์ นาคสุทิน นาคะนคร นาฏคายี นาถะพินธุ "
        "นานายน นามเสวตร นำธวัช นิยมสำหรวจ นิยมเซียม นิระหานี นิลสลัว นิลสุวรรณ์ นิละทัต "
        "นิลเสนา นุชแนวนุ่ม บัวเผื่อน บินดี บุญญาภิรมย์ บุญส่ง บุณยะภาชน์ บุตดา บุตราช "
        "บุนยะตีรณะ บุนยาภิสนท์ ประจันตะเสน ปรีชากุลเศรษฐ์ ปานสุวรรณ ผลบุญ พงศ์ฉบับนภา พรมอ่อน "
        "พรรษาสกุล พรสีมา พานเกล้า พีระเพ็ญกุล มิ่งขวัญ ยาปะโลหิต ราชมณี วะคีมัน วาทา วิลาสินี "
        "ศรีตะวัน ศรีธนะเวทย์ ศรีวงค์ ศรีสัตย์ สงประเสริฐ สังข์กรด สันตะวงศ์ สุวรรณหงษ์ หอมสิน "
        "หิรัญสาลี เขียวอ่อน เณรานุสนธิ์ เดชคุ้ม เตชะกำพุ เตมิยะเดช เนื่องนนท์ เนื้อนุ่ม "
        "เพียยา เมืองสุข เลขะพันธุ์ เลิศกิ่ง เวียงจันทึก แก้วอยู่ แจ้งสว่าง แต้กุล แถมธน "
        "แท่นทอง แนวพญา แน่นดุจป้อม แหยมศิริ ไตรบรรพ ไทนิยม ไทยแท้ ไม้แดง ไสยกิจ "
    ),
}

_BG_SCHEMES: dict[str, dict[str, str]] = {
    "bgn": {"х": "kh", "щ": "shch", "ъ": "", "й": "y", "ю": "yu", "я": "ya", "ь": ""},
    "german": {
        "в": "w", "ж": "sch", "ш": "sch", "ч": "tsch", "щ": "schtsch", "ц": "z", "й": "j",
        "ю": "ju", "я": "ja", "х": "ch", "з": "s", "с": "s", "ъ": "a", "ь": "",
    },
    "french": {
        "ш": "ch", "ч": "tch", "у": "ou", "ж": "j", "х": "kh", "я": "ia", "ю": "iou",
        "ъ": "a", "щ": "cht", "ц": "ts", "й": "i", "ь": "",
    },
    "scholarly": {
        "ж": "ž", "ш": "š", "ч": "č", "щ": "št", "ц": "c", "х": "h", "ъ": "ă",
        "ю": "ju", "я": "ja", "й": "j", "ь": "",
    },
}  # fmt: skip
_BG_BASE = CYRILLIC  # the official Bulgarian system, as in the pipeline
_THAI_INFORMAL = (("ph", "p"), ("th", "t"), ("kh", "k"), ("ch", "j"), ("u", "oo"), ("i", "ee"))
_HONORIFICS = {
    "ro": ("Dl. ", "Dna. "),
    "bg": ("Г-н ", "Г-жа "),
    "ng": ("Mr ", "Chief ", "Mrs "),
    "zh": ("", ""),
    "th": ("นาย", "นางสาว"),
}


@dataclass(frozen=True)
class SyntheticLists:
    """Two person tables and the ground truth (pairs of ``record_id``)."""

    left: pd.DataFrame
    right: pd.DataFrame
    links: frozenset[tuple[str, str]]


@lru_cache(maxsize=16)
def _pool(locale: str, kind: str) -> tuple[str, ...]:
    words = _POOLS[(locale, kind)].split()
    if locale == "zh" and kind == "given":
        # Chinese given names combine one or two characters freely
        chars = sorted({c for w in words for c in w})
        return tuple(sorted({*words, *(a + b for a in chars for b in chars)}))
    if locale == "ro" and kind == "family":
        # patronymic surnames, as Petrescu from Petre, Ionescu from Ion
        stems = {g.rstrip("aeiouă") for g in _pool("ro", "given") if len(g) > 3}
        return tuple(sorted({*words, *(st + "escu" for st in stems if st)}))
    return tuple(words)


def name_pool(locale: str, kind: str) -> tuple[str, ...]:
    """The names drawn for ``locale`` (one of :data:`LOCALES`), ``kind`` ``given`` or
    ``family`` (also used by the monitoring generator).

    Examples
    --------
    >>> len(name_pool("zh", "given")) > 10_000
    True
    """
    return _pool(locale, kind)


def cyrillic_latin(text: str, scheme: str) -> str:
    table = {**_BG_BASE, **_BG_SCHEMES.get(scheme, {})}
    out = "".join(table.get(c.lower(), c) for c in text)
    if scheme == "french" and out.endswith("ov"):
        out = out[:-2] + "off"
    elif scheme == "german" and out.endswith("ow") is False and out.endswith("ov"):
        out = out[:-2] + "ow"
    return out[:1].upper() + out[1:]


def pinyin(text: str, rng: np.random.Generator) -> str:
    from pypinyin import Style, lazy_pinyin

    syl = [s.replace("ü", "u").replace("v", "u") for s in lazy_pinyin(text, style=Style.NORMAL)]
    sep = ("", " ", "-")[int(rng.integers(3))] if len(syl) > 1 else ""
    return sep.join(s.capitalize() if k == 0 or sep == " " else s for k, s in enumerate(syl))


def thai_latin(text: str, rng: np.random.Generator) -> str:
    from pythainlp.transliterate import romanize

    out = str(romanize(text, engine="royin"))
    if rng.random() < 0.5:
        for old, new in _THAI_INFORMAL:
            if rng.random() < 0.4:
                out = out.replace(old, new)
        if out.endswith("phon") and rng.random() < 0.5:
            out = out[:-4] + "porn"
    return out.capitalize()


def _ro_variant(text: str, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.4:  # typed without diacritics
        return text.translate(str.maketrans("ășțâîĂȘȚÂÎ", "astaiASTAI"))
    if r < 0.6:  # legacy cedilla code points
        return text.translate(str.maketrans("șțȘȚ", "şţŞŢ"))
    return text


def _render(locale: str, name: str, rng: np.random.Generator) -> str:
    if locale == "bg" and rng.random() < 0.5:
        scheme = ("official", "bgn", "german", "french", "scholarly")[int(rng.integers(5))]
        return cyrillic_latin(name, scheme)
    if locale == "zh" and rng.random() < 0.5:
        return pinyin(name, rng)
    if locale == "th" and rng.random() < 0.5:
        return thai_latin(name, rng)
    if locale == "ro":
        return _ro_variant(name, rng)
    return name


def typo(text: str, rng: np.random.Generator) -> str:
    if len(text) < 3 or not text.isascii():
        return text
    k = int(rng.integers(1, len(text) - 1))
    op = int(rng.integers(4))
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))]
    if op == 0:
        return text[:k] + text[k + 1 :]
    if op == 1:
        return text[:k] + letter + text[k:]
    if op == 2:
        return text[:k] + letter + text[k + 1 :]
    return text[: k - 1] + text[k] + text[k - 1] + text[k + 1 :]


def _date(y: int, m: int, d: int, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.10:
        return ""
    if r < 0.22:
        return f"{y:04d}"
    if r < 0.28:
        return f"{y:04d}-{m:02d}"
    if r < 0.33 and d <= 12:
        m, d = d, m
    elif r < 0.36:
        d = int(rng.integers(1, 29))
    return f"{y:04d}-{m:02d}-{d:02d}"


def _person(rng: np.random.Generator) -> tuple[str, list[str], str, tuple[int, int, int]]:
    locale = LOCALES[int(rng.integers(len(LOCALES)))]
    given = name_pool(locale, "given")
    n_given = 2 if locale in ("ro", "ng") and rng.random() < 0.25 else 1
    names = [given[int(rng.integers(len(given)))] for _ in range(n_given)]
    family = name_pool(locale, "family")
    dob = (int(rng.integers(1950, 2010)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    return locale, names, family[int(rng.integers(len(family)))], dob


def _record(
    person: tuple[str, list[str], str, tuple[int, int, int]], rng: np.random.Generator
) -> tuple[str, str, str]:
    locale, names, family_name, (y, m, d) = person
    kept = names[:1] if len(names) > 1 and rng.random() < 0.3 else names
    given = " ".join(_render(locale, g, rng) for g in kept)
    family = _render(locale, family_name, rng)
    if rng.random() < 0.2:
        if rng.random() < 0.5:
            given = typo(given, rng)
        else:
            family = typo(family, rng)
    if rng.random() < 0.05:
        given = _HONORIFICS[locale][int(rng.integers(2))] + given
    if rng.random() < 0.1:
        given, family = family, given
    return given, family, _date(y, m, d, rng)


def make_lists(n: int = 1000, *, overlap: float = 0.1, seed: int = 0) -> SyntheticLists:
    """Two lists of ``n`` records each, ``round(overlap * n)`` of them shared.

    Parameters
    ----------
    n : int
        Records per list.
    overlap : float
        Fraction of each list's records whose person is also in the other list.
    seed : int
        Seed of the generator (training and test data use different seeds).

    Returns
    -------
    SyntheticLists
        ``left`` and ``right`` with columns ``record_id``, ``given_name``,
        ``family_name``, ``date_of_birth``, rows in random order, and the true
        links.

    Examples
    --------
    >>> s = make_lists(50, seed=1)
    >>> len(s.left), len(s.right), len(s.links)
    (50, 50, 5)
    """
    rng = np.random.default_rng(seed)
    shared = round(overlap * n)
    people = [_person(rng) for _ in range(2 * n - shared)]
    left_people = list(range(n))
    right_people = list(range(shared)) + list(range(n, 2 * n - shared))
    frames = []
    ids: list[list[str]] = []
    for side, members in (("L", left_people), ("R", right_people)):
        order = rng.permutation(len(members))
        rows = [_record(people[members[k]], rng) for k in order]
        rec_ids = [f"{side}{k:06d}" for k in range(len(members))]
        ids.append([f"{side}{int(np.where(order == j)[0][0]):06d}" for j in range(len(members))])
        frames.append(
            pd.DataFrame(
                {
                    "record_id": rec_ids,
                    "given_name": [r[0] for r in rows],
                    "family_name": [r[1] for r in rows],
                    "date_of_birth": [r[2] for r in rows],
                }
            )
        )
    links = frozenset((ids[0][p], ids[1][p]) for p in range(shared))
    return SyntheticLists(frames[0], frames[1], links)
